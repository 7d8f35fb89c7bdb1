"""One simulation and what it returns and writes: simulate_argv, Result, the render driver, the
outputs, traces, and the Simulator of many frames."""
