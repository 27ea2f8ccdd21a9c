//! The central backend. (Being built.)
