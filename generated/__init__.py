"""Code generated from contracts/ by `nox -s codegen`. Never edited by hand."""
