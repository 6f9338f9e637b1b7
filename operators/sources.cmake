list(APPEND SLUICE_SOURCES
  operators/window.c
)
