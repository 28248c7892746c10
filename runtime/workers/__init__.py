"""Workers run as their own processes by a component (e.g. `python -m lume.runtime.workers.sam3d`
for the Mac5 handoff); nothing imports them."""
