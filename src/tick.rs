//! tick (to be written).
