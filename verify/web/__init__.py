"""The public verification web service: the page a phone opens from the barcode, number look-up,
uploads, a JSON API, trust list and status list, and the complaint form. `create_app` builds it."""
