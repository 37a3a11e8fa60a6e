"""Write a recipe of N file_ops.write steps, each naming the previous step's output.

The same recipe as ../shared/bench/gen_chain.py (the 0.x baseline's), so the
figures compare like for like.
"""

import sys


def chain(n: int) -> str:
    lines = [f'name: "chain-{n}"', 'version: "1.0"', "steps:"]
    for i in range(n):
        prev = f"prev={{{{steps.s{i - 1}.outputs.path}}}}" if i else "first"
        lines += [
            f'  - id: "s{i}"',
            '    tool: "file_ops"',
            '    action: "write"',
            "    inputs:",
            f'      path: "{{{{temp_dir}}}}/f{i}.txt"',
            f'      content: "{prev}"',
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    with open(sys.argv[2], "w") as f:
        f.write(chain(int(sys.argv[1])))
