"""The FaceCraft desktop application (PySide6). A thin view over :mod:`facecraft.core`."""
