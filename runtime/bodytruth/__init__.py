"""BodyTruth v0: fusion of source observations into one `lume_body_truth` object per tick."""
