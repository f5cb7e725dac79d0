// The start-up guard's feature list for the ctest cpu_guard_trips (tests/CMakeLists.txt): XOP
// (AMD's Bulldozer family only, 2011-2015) and AMX tiles (Intel's, from Sapphire Rapids on). No
// processor has both, so a program built with this list must stop before main on every machine.
#define HG_CPU_ARCH_TEXT "test-xop-amx"
#define HG_CPU_REQUIRED_FEATURES \
    HG_CPU_FEATURE("xop") \
    HG_CPU_FEATURE("amx-tile") \
    /* end */
