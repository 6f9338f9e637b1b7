# SPDX-License-Identifier: Apache-2.0
# The dashboard page is compiled into the binary: core/http/dashboard/index.html
# becomes a C array in ${CMAKE_BINARY_DIR}/generated/dashboard_html.c.
set(SLUICE_DASHBOARD_C ${CMAKE_BINARY_DIR}/generated/dashboard_html.c)
add_custom_command(
  OUTPUT ${SLUICE_DASHBOARD_C}
  COMMAND ${CMAKE_COMMAND} -DIN=${CMAKE_SOURCE_DIR}/core/http/dashboard/index.html
          -DOUT=${SLUICE_DASHBOARD_C} -P ${CMAKE_SOURCE_DIR}/core/http/dashboard/embed_html.cmake
  DEPENDS ${CMAKE_SOURCE_DIR}/core/http/dashboard/index.html
          ${CMAKE_SOURCE_DIR}/core/http/dashboard/embed_html.cmake
  COMMENT "Embedding the dashboard page")
list(APPEND SLUICE_SOURCES ${SLUICE_DASHBOARD_C})

# A small server with fake pipeline callbacks and fake events, for the
# browser test and the load test (tests/http_demo_server.c). Defined once the
# sluice_core target exists.
function(sluice_http_demo_target)
  if(SLUICE_TESTS AND TARGET sluice_core)
    add_executable(http_demo_server ${CMAKE_SOURCE_DIR}/tests/http_demo_server.c)
    target_link_libraries(http_demo_server PRIVATE sluice_core)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL sluice_http_demo_target)
