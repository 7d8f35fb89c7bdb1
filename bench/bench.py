#!/usr/bin/env python3
"""nbgpu's GPU benchmark (also `nbgpu bench`): see nbgpu/bench/ and docs/performance.md.

    python bench/bench.py --quick --ref nanoBragg=/path/to/nanoBragg --json out.json
    python bench/bench.py --ref nanoBragg=/path/to/nanoBragg --ref nanoBraggCUDA=/path/to/nanoBraggCUDA \
        --json h200.json --plot h200.png
"""
import sys

from nbgpu.bench.main import main

if __name__ == "__main__":
    sys.exit(main())
