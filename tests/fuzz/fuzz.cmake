# SPDX-License-Identifier: Apache-2.0
# Included by the top-level CMakeLists.txt with -DSLUICE_FUZZ=ON, before
# sluice_core is declared (scripts/fuzz.sh sets everything up):
#  - with clang, everything but Lua is compiled with libFuzzer's coverage
#    (-fsanitize=fuzzer-no-link) and the targets link libFuzzer; with another
#    compiler the targets link tests/fuzz/replay_main.c instead, a main that
#    runs each file given (a replay driver, no fuzzing);
#  - SLUICE_FUZZ_LUA_SOURCE (a Lua 5.4 source tree) replaces Debian's liblua
#    with a static Lua built from it with LUA_USE_APICHECK and the sanitizers,
#    so that misuse of the Lua C API asserts and Lua's own memory is checked.
set(SLUICE_FUZZ_LUA_SOURCE "" CACHE PATH "Lua 5.4 source tree (with src/lapi.c) for the fuzz targets")
if(NOT SLUICE_SANITIZE)
  message(FATAL_ERROR "SLUICE_FUZZ needs SLUICE_SANITIZE=ON (scripts/fuzz.sh build)")
endif()
# Optimised enough to fuzz fast; assertions stay on (no NDEBUG: LUA_USE_APICHECK
# is an assert).
add_compile_options(-O1 -g -UNDEBUG)
# The project's -Werror is for the compiler of the normal builds (gcc): clang's
# own warnings show up here but do not stop a fuzz build.
add_compile_options(-Wno-error)

if(SLUICE_FUZZ_LUA_SOURCE)
  if(NOT EXISTS ${SLUICE_FUZZ_LUA_SOURCE}/src/lapi.c)
    message(FATAL_ERROR "SLUICE_FUZZ_LUA_SOURCE=${SLUICE_FUZZ_LUA_SOURCE} has no src/lapi.c")
  endif()
  file(GLOB lua_sources ${SLUICE_FUZZ_LUA_SOURCE}/src/*.c)
  list(FILTER lua_sources EXCLUDE REGEX "/(lua|luac|onelua)\\.c$")
  add_library(sluice_fuzz_lua STATIC ${lua_sources})
  target_compile_definitions(sluice_fuzz_lua PUBLIC LUA_USE_APICHECK PRIVATE LUA_USE_LINUX LUA_COMPAT_5_3)
  target_compile_options(sluice_fuzz_lua PRIVATE -w) # Lua's code, Lua's warnings
  target_include_directories(sluice_fuzz_lua PUBLIC ${SLUICE_FUZZ_LUA_SOURCE}/src)
  target_link_libraries(sluice_fuzz_lua PUBLIC m ${CMAKE_DL_LIBS})
  # Everything that links PkgConfig::LUA gets this Lua instead.
  set_target_properties(PkgConfig::LUA PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${SLUICE_FUZZ_LUA_SOURCE}/src"
    INTERFACE_LINK_LIBRARIES sluice_fuzz_lua
    INTERFACE_LINK_OPTIONS ""
    INTERFACE_LINK_DIRECTORIES ""
    INTERFACE_COMPILE_OPTIONS "")
else()
  message(WARNING "SLUICE_FUZZ without SLUICE_FUZZ_LUA_SOURCE: the Lua targets use Debian's "
                  "liblua5.4, which is neither instrumented nor built with LUA_USE_APICHECK")
endif()

if(CMAKE_C_COMPILER_ID MATCHES "Clang")
  set(SLUICE_FUZZ_LIBFUZZER ON)
  # After the Lua library: coverage of Lua's interpreter would only drown
  # libFuzzer's feedback on sluice's own code.
  add_compile_options(-fsanitize=fuzzer-no-link)
else()
  set(SLUICE_FUZZ_LIBFUZZER OFF)
  message(STATUS "SLUICE_FUZZ with ${CMAKE_C_COMPILER_ID}: replay drivers, no libFuzzer")
endif()
