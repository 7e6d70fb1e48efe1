"""The nonlinear 3D morphable model: encoder, decoders, losses."""
