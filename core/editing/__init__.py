"""Editing the UV albedo: brush strokes, stickers, makeup regions, layers and their undo history."""
