"""Labels, the template analyzer and promotion into visual templates and the AirDeck manifest."""
