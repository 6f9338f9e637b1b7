list(APPEND SLUICE_SOURCES
  core/expr/expr_compile.c
  core/expr/expr_eval.c
  core/expr/expr_func.c
  core/expr/expr_lex.c
  core/expr/expr_parse.c
  core/expr/expr_pred.c
)
