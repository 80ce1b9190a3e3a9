"""The resident runner's modules (entry point: ops/runner/runner.py).

    identity  the two identities: runner (root, few caps) and program (1000)
    config    language table, protocol limits, paths, log()
    frames    length-prefixed JSON frames: read, write, validate run frames
    procs     process supervision: pipes, deadlines, leftovers, OOM, status
    pystate   the Python state file: load before a run, save after it
    python    Python runs: a warm fork server (spare child per run)
    lean      the lean fork server: spares for runs that need only the stdlib
    hugepages the fork server's heap in transparent huge pages
    compiled  every other language: write, compile, run in a build dir
    resident  warm compilers (ts transpiler, javac) as uid 1000, per container
    resident_src  their sources (node script, Java compile server)
    server    the serve loop, environment, idle pre-imports, main()

A package (not top-level modules) so a user's /mnt/data/frames.py can never
shadow the runner's own, and everything is imported before the first fork.
"""
