#!/usr/bin/env python3
"""Writes docs/openapi.json. Edit this file, run it, and commit both; the test
`openapi::the_spec_lists_exactly_the_route_table` keeps the spec in step with the router."""
import json

def err(desc):
    return {"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

def ok(desc, schema):
    return {"description": desc, "content": {"application/json": {"schema": schema}}}

ref = lambda name: {"$ref": f"#/components/schemas/{name}"}
id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 256}}
common_errors = {"400": err("malformed request"), "422": err("invalid field (named in the message)"),
                 "500": err("internal error (details in the server log)")}

search_params = [
    {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "the shopper's words; empty browses"},
    {"name": "visitor_id", "in": "query", "schema": {"type": "string"}},
    {"name": "category", "in": "query", "schema": {"type": "string"}, "description": "path prefix, `A > B`, case-insensitive"},
    {"name": "brand", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": True, "description": "repeatable; any of"},
    {"name": "price_min", "in": "query", "schema": {"type": "number", "minimum": 0}},
    {"name": "price_max", "in": "query", "schema": {"type": "number", "minimum": 0}},
    {"name": "in_stock", "in": "query", "schema": {"type": "boolean"}},
    {"name": "attr", "in": "query", "style": "deepObject", "schema": {"type": "object", "additionalProperties": {"type": "string"}},
     "description": "`attr.<name>=<value>`, repeatable; values of one attribute are OR-ed, attributes AND-ed"},
    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["relevance", "price_asc", "price_desc", "newest", "rating", "popularity"]}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 10000}, "description": "offset + limit at most 10,000"},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 100, "default": 10}},
    {"name": "facets", "in": "query", "schema": {"type": "string"}, "description": "comma-separated: category, brand, price, tier, attr.<name>"},
    {"name": "tier", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": True, "description": "repeatable; price tiers (budget, mid, premium, luxury by default)"},
    {"name": "personalization", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 100}, "description": "strength for this request; 0 is unpersonalized"},
    {"name": "explain", "in": "query", "schema": {"type": "boolean"}},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}, "description": "1-based page, with hits_per_page (instead of offset and limit); the answer then carries page, hits_per_page and total_pages"},
    {"name": "hits_per_page", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 100, "default": 10}},
    {"name": "fields", "in": "query", "schema": {"type": "string"}, "description": "comma-separated hit fields to return (id always comes): title, brand, category, price, currency, tier, image_url, url, in_stock, rating, review_count, attributes, score, explain, _highlight"},
    {"name": "highlight", "in": "query", "schema": {"type": "boolean"}, "description": "each hit carries _highlight: its title and a description snippet with the matched words in <em> (HTML-escaped)"},
]

autocomplete_params = [
    {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "what the shopper typed so far; empty answers the most popular suggestions"},
    {"name": "visitor_id", "in": "query", "schema": {"type": "string"}, "description": "boosts suggestions of the visitor's brands and categories; unknown ids get no boost"},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 20, "default": 8}},
]

spec = {
    "openapi": "3.0.3",
    "info": {"title": "attune", "version": "0.1.0", "description": "Personalized product search server. See docs/api.md."},
    "paths": {
        "/health": {"get": {"summary": "Liveness and catalog size", "responses": {"200": ok("ok", ref("Health"))}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "the OpenAPI document"}}}},
        "/v1/products": {"get": {
            "summary": "Several products at once, in the order asked",
            "parameters": [{"name": "ids", "in": "query", "required": True, "schema": {"type": "string"}, "description": "comma-separated product ids, at most 100"}],
            "responses": {"200": ok("the products found, and the ids not found", {"type": "object", "properties": {
                "products": {"type": "array", "items": ref("Product")}, "not_found": {"type": "array", "items": {"type": "string"}}}}),
                **common_errors}},
          "post": {
            "summary": "Upsert products (JSON array or NDJSON, streamed)",
            "parameters": [{"name": "sync_id", "in": "query", "schema": {"type": "string"}, "description": "stage into an open full sync instead"}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"type": "array", "items": ref("Product")}},
                "application/x-ndjson": {"schema": ref("Product")}}},
            "responses": {"200": ok("applied; durable and searchable when sent", ref("IngestReport")),
                          "404": err("unknown sync"), "413": err("body too large"), "415": err("unsupported content type"), **common_errors}}},
        "/v1/products/{id}": {
            "get": {"summary": "Read a product", "parameters": [id_param],
                    "responses": {"200": ok("the product", ref("Product")), "404": err("unknown product"), **common_errors}},
            "patch": {"summary": "Partial update (JSON merge patch, RFC 7396)", "parameters": [id_param],
                      "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                      "responses": {"200": ok("the patched product", ref("Product")), "404": err("unknown product"),
                                    "415": err("unsupported content type"), **common_errors}},
            "delete": {"summary": "Delete a product", "parameters": [id_param],
                       "responses": {"200": ok("deleted", {"type": "object", "properties": {"deleted": {"type": "integer"}}}),
                                     "404": err("unknown product"), **common_errors}}},
        "/v1/products/delete": {"post": {
            "summary": "Delete products in bulk",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["ids"], "properties": {"ids": {"type": "array", "items": {"type": "string"}}}}}}},
            "responses": {"200": ok("deleted", ref("DeleteReport")), "415": err("unsupported content type"), **common_errors}}},
        "/v1/catalog/syncs": {"post": {"summary": "Open a full catalog sync",
                                       "responses": {"201": ok("the sync", ref("SyncInfo")), **common_errors}}},
        "/v1/catalog/syncs/{id}/commit": {"post": {
            "summary": "Replace the catalog with the sync's products, atomically", "parameters": [id_param],
            "responses": {"200": ok("replaced", ref("ReplaceReport")), "404": err("unknown or closed sync"), **common_errors}}},
        "/v1/catalog/syncs/{id}": {"delete": {
            "summary": "Abandon a sync; the catalog is unchanged", "parameters": [id_param],
            "responses": {"200": ok("aborted", {"type": "object"}), "404": err("unknown or closed sync"), **common_errors}}},
        "/v1/search": {
            "get": {"summary": "Search and browse", "parameters": search_params,
                    "responses": {"200": ok("results", ref("SearchResponse")), "503": err("busy, retry"), **common_errors}},
            "post": {"summary": "Search with a JSON body (same fields; `attr` is an object)",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                     "responses": {"200": ok("results", ref("SearchResponse")), "413": err("body too large"),
                                   "415": err("unsupported content type"), "503": err("busy, retry"), **common_errors}}},
        "/v1/multi-search": {"post": {
            "summary": "Several searches in one request (at most 10), answered in order",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object", "required": ["queries"], "properties": {
                "queries": {"type": "array", "maxItems": 10, "items": {"type": "object", "description": "a POST /v1/search body"}}}}}}},
            "responses": {"200": ok("one answer per search", {"type": "object", "properties": {"results": {"type": "array", "items": ref("SearchResponse")}}}),
                          "415": err("unsupported content type"), "503": err("busy, retry"), **common_errors}}},
        "/v1/browse": {"get": {
            "summary": "A category page: popularity and recency, personalized (filters, facets, sort and paging as search; no `q`)",
            "parameters": [p for p in search_params if p["name"] != "q"],
            "responses": {"200": ok("results", ref("SearchResponse")), "503": err("busy, retry"), **common_errors}}},
        "/v1/autocomplete": {"get": {
            "summary": "Suggestions for a prefix: past queries, brands, categories (typo-tolerant)",
            "parameters": autocomplete_params,
            "responses": {"200": ok("suggestions, best first", ref("AutocompleteResponse")), "503": err("busy, retry"), **common_errors}}},
        "/v1/events": {"post": {
            "summary": "Record visitor events (one object, a JSON array of up to 1,000, or NDJSON)",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"oneOf": [ref("Event"), {"type": "array", "maxItems": 1000, "items": ref("Event")}]}},
                "application/x-ndjson": {"schema": ref("Event")},
                "text/plain": {"schema": {"type": "string", "description": "navigator.sendBeacon: JSON or NDJSON, at most 1 MiB"}}}},
            "responses": {"200": ok("recorded; durable and applied when sent", ref("EventReport")),
                          "422": err("invalid_items: every event was rejected (the report is in the body too)"),
                          "413": err("body too large"), "415": err("unsupported content type"), **common_errors}}},
        "/v1/visitors/{id}": {
            "get": {"summary": "The profile ranking uses", "parameters": [id_param],
                    "responses": {"200": ok("the profile", ref("Profile")), "404": err("unknown visitor"), **common_errors}},
            "delete": {"summary": "Erase the profile, its aliases and its events from memory and disk (idempotent)", "parameters": [id_param],
                       "responses": {"200": ok("erased; found is false when nothing was left", {"type": "object", "properties": {
                           "deleted": {"type": "string"}, "found": {"type": "boolean"}}}), **common_errors}}},
        "/v1/visitors/{id}/identify": {"post": {
            "summary": "Merge an anonymous visitor into a user", "parameters": [id_param],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["user_id"], "properties": {"user_id": {"type": "string"}}}}}},
            "responses": {"200": ok("merged", {"type": "object", "properties": {"visitor_id": {"type": "string"}, "profile_id": {"type": "string"}}}),
                          "415": err("unsupported content type"), **common_errors}}},
        "/v1/visitors/{id}/preferences": {"put": {
            "summary": "Replace stated preferences (zero-party data); `personalize: false` opts out", "parameters": [id_param],
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("Preferences")}}},
            "responses": {"200": ok("the profile", ref("Profile")), "415": err("unsupported content type"), **common_errors}}},
        "/v1/admin/config": {"get": {
            "summary": "The configuration in force: its version (hash, counter, load time, files) and its rules",
            "responses": {"200": ok("the version in force", ref("ConfigInForce")), **common_errors}}},
        "/v1/admin/caches": {"get": {
            "summary": "What each cache holds: entries, capacity, hits and misses since start",
            "responses": {"200": ok("every cache", {"type": "object", "required": ["caches"], "properties": {
                "caches": {"type": "array", "items": ref("CacheStats")}}}), **common_errors}}},
        "/v1/admin/reload": {"post": {
            "summary": "Reread the configuration file and its included rule files; an invalid one is rejected and the one in force stays",
            "responses": {"200": ok("the new version in force", ref("ReloadReport")),
                          "422": err("invalid_config: file:line:column: reason; or no_config_file"), "500": err("internal error")}}},
        "/v1/admin/rules/preview": {"post": {
            "summary": "A query's top hits under the configuration in force and under a candidate, on one snapshot",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("PreviewRequest")}}},
            "responses": {"200": ok("before and after, side by side", ref("Preview")),
                          "415": err("unsupported content type"), "503": err("busy, retry"), **common_errors}}},
    },
    "components": {"schemas": {
        "CacheStats": {"type": "object", "required": ["name", "entries", "capacity", "hits", "misses"], "properties": {
            "name": {"type": "string", "description": "tastes, product_facts, facet_paths, facet_trees, doc_facts, facet_ords_by_key, rank_columns, hit_tables, corrections, last_word_completions"},
            "entries": {"type": "integer"}, "capacity": {"type": "integer"},
            "hits": {"type": "integer"}, "misses": {"type": "integer"}}},
        "ConfigVersion": {"type": "object", "properties": {
            "path": {"type": "string", "nullable": True}, "hash": {"type": "string", "description": "CRC-32 of the files, hex"},
            "files": {"type": "array", "items": {"type": "string"}}, "counter": {"type": "integer"},
            "loaded_at": {"type": "string", "format": "date-time"}}},
        "ConfigInForce": {"type": "object", "properties": {"version": ref("ConfigVersion"),
            "rules": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "description": {"type": "string", "nullable": True}}}}}},
        "ReloadReport": {"type": "object", "properties": {"version": ref("ConfigVersion"), "changed": {"type": "boolean"},
            "rules": {"type": "integer"}, "ignored_until_restart": {"type": "array", "items": {"type": "string"}}}},
        "PreviewRequest": {"type": "object", "required": ["config"], "additionalProperties": False, "properties": {
            "config": {"type": "string", "description": "candidate attune.toml text"}, "q": {"type": "string"},
            "visitor_id": {"type": "string"}, "limit": {"type": "integer", "minimum": 0, "maximum": 100}}},
        "Preview": {"type": "object", "properties": {
            "before": {"type": "array", "items": {"type": "object"}}, "after": {"type": "array", "items": {"type": "object"}},
            "fired": {"type": "array", "items": {"type": "string"}}, "fired_before": {"type": "array", "items": {"type": "string"}},
            "redirect": {"type": "string"}}},
        "Event": {"type": "object", "required": ["type", "visitor_id"], "additionalProperties": False, "properties": {
            "type": {"type": "string", "enum": ["view", "click", "add_to_cart", "remove_from_cart", "purchase", "return", "search"]},
            "visitor_id": {"type": "string"}, "user_id": {"type": "string"}, "product_id": {"type": "string"},
            "query": {"type": "string"}, "position": {"type": "integer", "minimum": 1}, "search_id": {"type": "string"},
            "order_id": {"type": "string"}, "price": {"type": "number", "minimum": 0}, "quantity": {"type": "integer", "minimum": 1},
            "timestamp": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "integer", "description": "epoch ms"}]},
            "source": {"type": "string"},
            "event_id": {"type": "string", "maxLength": 256, "description": "the client's unique id: a repeat within profiles.event_id_window_hours is ignored"}}},
        "EventReport": {"type": "object", "properties": {"accepted": {"type": "integer"},
            "duplicates": {"type": "integer", "description": "events ignored: their event_id was recorded already"}, "failed": {"type": "integer"},
            "errors": {"type": "array", "items": {"type": "object"}}}},
        "Preferences": {"type": "object", "additionalProperties": False, "properties": {
            "categories": {"type": "array", "items": {"type": "string"}}, "brands": {"type": "array", "items": {"type": "string"}},
            "price_min": {"type": "number"}, "price_max": {"type": "number"},
            "sizes": {"type": "array", "items": {"type": "string"}}, "colors": {"type": "array", "items": {"type": "string"}},
            "personalize": {"type": "boolean", "default": True}}},
        "Profile": {"type": "object", "description": "see docs/api.md"},
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"],
                  "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
        "Health": {"type": "object", "properties": {"status": {"type": "string"}, "products": {"type": "integer"},
                   "generation": {"type": "integer"}, "open_syncs": {"type": "integer"}, "profiles": {"type": "integer"}, "version": {"type": "string"}}},
        "Product": {"type": "object", "required": ["id", "title"], "additionalProperties": True, "properties": {
            "id": {"type": "string", "maxLength": 256}, "title": {"type": "string"}, "description": {"type": "string"},
            "brand": {"type": "string"},
            "category": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]},
            "price": {"type": "number", "minimum": 0}, "currency": {"type": "string"},
            "attributes": {"type": "object", "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}},
            "tags": {"type": "array", "items": {"type": "string"}}, "in_stock": {"type": "boolean", "default": True},
            "popularity": {"type": "number", "minimum": 0}, "rating": {"type": "number", "minimum": 0},
            "review_count": {"type": "integer", "minimum": 0}, "image_url": {"type": "string"}, "url": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"}, "lang": {"type": "string", "minLength": 2, "maxLength": 2}}},
        "IngestReport": {"type": "object", "properties": {"upserted": {"type": "integer"}, "failed": {"type": "integer"},
            "sync_id": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {"line": {"type": "integer"}, "id": {"type": "string"},
                       "code": {"type": "string"}, "message": {"type": "string"}}}}}},
        "DeleteReport": {"type": "object", "properties": {"deleted": {"type": "integer"}, "not_found": {"type": "array", "items": {"type": "string"}}}},
        "SyncInfo": {"type": "object", "properties": {"sync_id": {"type": "string"}, "staged": {"type": "integer"}, "ttl_seconds": {"type": "integer"}}},
        "ReplaceReport": {"type": "object", "properties": {"products": {"type": "integer"}, "removed": {"type": "integer"}}},
        "AutocompleteResponse": {"type": "object", "properties": {
            "suggestions": {"type": "array", "items": {"type": "object", "properties": {
                "text": {"type": "string"}, "type": {"type": "string", "enum": ["query", "brand", "category", "product"]},
                "count": {"type": "integer", "description": "visitors (query), products (brand, category) or popularity (product)"},
                "id": {"type": "string", "description": "the product's id (products)"}, "url": {"type": "string", "description": "the product's page (products)"},
                "path": {"type": "array", "items": {"type": "string"}, "description": "the category path from the root (categories)"}}}},
            "took_ms": {"type": "number"}}},
        "SearchResponse": {"type": "object", "properties": {
            "hits": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"}, "title": {"type": "string"}, "brand": {"type": "string"},
                "category": {"type": "array", "items": {"type": "string"}}, "price": {"type": "number"},
                "tier": {"type": "string", "description": "price tier within the category"},
                "image_url": {"type": "string"}, "url": {"type": "string"}, "score": {"type": "number"},
                "currency": {"type": "string"}, "in_stock": {"type": "boolean"}, "rating": {"type": "number"},
                "review_count": {"type": "integer"},
                "attributes": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
                "_highlight": {"type": "object", "properties": {"title": {"type": "string"}, "description": {"type": "string"}}},
                "explain": {"type": "object"}}}},
            "page": {"type": "integer"}, "hits_per_page": {"type": "integer"}, "total_pages": {"type": "integer"},
            "warnings": {"type": "array", "items": {"type": "string"}, "description": "without hits: the filters no product can satisfy, and why"},
            "total": {"type": "integer"}, "facets": {"type": "object"}, "query": {"type": "object"},
            "personalization": {"type": "object", "properties": {
                "applied": {"type": "boolean"}, "group": {"type": "string", "enum": ["personalized", "control"]},
                "strength": {"type": "integer"}}},
            "redirect": {"type": "string", "description": "set by a merchandising rule; the hits are still there"},
            "search_id": {"type": "string"}, "took_ms": {"type": "number"}}},
    }},
}
with open("docs/openapi.json", "w") as f:
    json.dump(spec, f, indent=2)
    f.write("\n")
