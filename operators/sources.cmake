list(APPEND SLUICE_SOURCES
  operators/alert.c
  operators/alert_state.c
  operators/decode.c
  operators/encode.c
  operators/filter.c
  operators/map.c
  operators/select.c
  operators/window.c
  operators/enrich.c
  operators/window_state.c
)
