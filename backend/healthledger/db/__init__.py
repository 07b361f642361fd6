"""MongoDB access: the client, the indexes and one repository per collection."""
