# tests/compat/scripts/py_subprocess.py: the subprocess module with its
# defaults (close_fds=True: the child closes every fd above 2 before exec),
# capture, pipes between children, os.fork, and multiprocessing.
import os
import subprocess
import sys

r = subprocess.run(["echo", "captured"], capture_output=True, text=True)
print("run:", r.returncode, repr(r.stdout))
r = subprocess.run(["sh", "-c", "echo err >&2; exit 3"], capture_output=True, text=True)
print("stderr and status:", r.returncode, repr(r.stderr))
p1 = subprocess.Popen(["seq", "1", "1000"], stdout=subprocess.PIPE)
p2 = subprocess.Popen(["wc", "-l"], stdin=p1.stdout, stdout=subprocess.PIPE, text=True)
p1.stdout.close()
print("pipeline:", p2.communicate()[0].strip())
print("check_output:", subprocess.check_output(["tr", "a-z", "A-Z"], input=b"shout\n"))
pid = os.fork()
if pid == 0:
    os._exit(12)
_, st = os.waitpid(pid, 0)
print("os.fork child status", os.waitstatus_to_exitcode(st))
sys.stdout.flush()
