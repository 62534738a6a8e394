"""Stand-in for pypa's get-pip.py, which ansible-test downloads from a host
that is not reachable here. It installs the interpreter's bundled pip with
ensurepip, then the pip version ansible-test asked for from PyPI."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
