//! Station ↔ central sync worker. (Being built.)
