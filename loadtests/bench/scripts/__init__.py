"""Scripts the benchmark runs through the engine (a script is a module file, loaded by path)."""
