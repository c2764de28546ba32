"""Starting the project's services as real processes (filled in with the retrieval service)."""
