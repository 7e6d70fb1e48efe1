"""Files in and out: image reading and writing, meshes, records, sessions, atomic writes, pixel conversion."""
