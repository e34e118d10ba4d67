//! Scalebase: the composition root.
