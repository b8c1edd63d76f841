import gc


def pytest_unconfigure(config):
    # generate_org() freezes the garbage collector's view of the big synthetic org (collections over
    # it cost seconds); frozen objects are never freed, and duckdb's bindings then report them as
    # leaks at exit, burying pytest's summary line. Thaw and collect before the interpreter ends.
    gc.unfreeze()
    gc.collect()
