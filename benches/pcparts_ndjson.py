#!/usr/bin/env python3
"""PCPartPicker parts as attune products, for benchmarks only (the data may not be shipped).

Reads ../shared/data/pcpartpicker_catalog/products.tsv.gz and writes NDJSON to stdout: N
parts evenly spaced over the file, so every part type is in (default all 66,778), with their name, guessed brand, two-level category, price
when listed, and every text-valued attribute (colour, type, socket, ...). Numbers and lists
of numbers stay out of the attributes, as a storefront's facet values would.

Usage: benches/pcparts_ndjson.py [N] > parts.ndjson
"""
import csv, gzip, json, os, sys

limit = int(sys.argv[1]) if len(sys.argv) > 1 else None
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "..", "..", "shared", "data", "pcpartpicker_catalog", "products.tsv.gz")
csv.field_size_limit(1 << 24)
with gzip.open(path, "rt", encoding="utf-8") as f:
    rows = list(csv.DictReader(f, delimiter="\t"))
if limit is not None:
    rows = [rows[i * len(rows) // limit] for i in range(min(limit, len(rows)))]
for row in rows:
    attributes = {}
    for name, value in json.loads(row["attributes_json"] or "{}").items():
        if isinstance(value, str) and value:
            attributes[name] = value
    product = {
        "id": row["id"],
        "title": row["name"].lstrip("\u200e"),
        "brand": row["brand_guess"],
        "category": [row["group"], row["category_label"]],
        "attributes": attributes,
    }
    if row["price_usd"]:
        product["price"] = float(row["price_usd"])
    print(json.dumps(product))
