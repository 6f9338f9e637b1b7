# SPDX-License-Identifier: Apache-2.0
# Script mode: turn the dashboard page IN into a C array in OUT.
#   cmake -DIN=index.html -DOUT=dashboard_html.c -P embed_html.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* Generated from core/http/dashboard/index.html: do not edit. */\n#include <stddef.h>\n"
     "const unsigned char sl_dashboard_html[] = {\n${body}0x00};\n"
     "const size_t sl_dashboard_html_len = ${bytes};\n")
