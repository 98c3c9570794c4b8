"""rawmmap's benchmarks: each compares rawmmap with a C baseline and the standard library."""
