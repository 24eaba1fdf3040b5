# A python:v1 action: reads its config, writes an output, prints a line.
import json
import os
import sys

config = json.loads(sys.argv[sys.argv.index("--config") + 1]) if "--config" in sys.argv else {}
os.makedirs("output", exist_ok=True)
with open("output/report.txt", "w") as f:
    f.write(f"hello {config.get('name', 'nobody')}\n")
print("python ran", sys.argv[1:], flush=True)
