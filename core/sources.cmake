list(APPEND SLUICE_SOURCES
  core/arena.c
  core/buf.c
  core/config.c
  core/error.c
  core/json_decode.c
  core/json_encode.c
  core/expr_compile.c
  core/expr_eval.c
  core/expr_func.c
  core/expr_lex.c
  core/expr_parse.c
  core/name.c
  core/record.c
)
