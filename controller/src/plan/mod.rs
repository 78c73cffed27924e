//! The pure planner: desired + observed tenant → ordered actions and findings. No I/O.
