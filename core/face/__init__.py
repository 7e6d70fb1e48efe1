"""The face: detection (MediaPipe), the 68-point map and index sets, the template, the encoder's crop."""
