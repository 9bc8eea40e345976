"""Storage backends and traversal for the registry graph.

`graph` knows documents (plain dicts in the bundle's field names) and the graph they form;
it never imports the GraphQL layer or the CLI.
"""
