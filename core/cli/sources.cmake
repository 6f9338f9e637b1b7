list(APPEND SLUICE_SOURCES
  core/cli/bench.c
  core/cli/cli.c
  core/cli/state_start.c
  core/cli/cli_state.c
  core/cli/test_compare.c
  core/cli/test_case.c
  core/cli/test_input.c
  core/cli/cli_test.c
)
