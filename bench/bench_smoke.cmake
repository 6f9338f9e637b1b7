# SPDX-License-Identifier: Apache-2.0
# Runs `sluice bench --keys 100 --records 20000 ARGS` (ARGS '|'-separated) and
# checks that every record was read and EXPECT results reached the sinks.
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${SLUICE} bench --keys 100 --records 20000 ${args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sluice bench exited ${rc}: ${err}")
endif()
if(NOT out MATCHES "\"records\":20000,")
  message(FATAL_ERROR "not every record was read: ${out}")
endif()
if(NOT out MATCHES "\"windows\":${EXPECT},")
  message(FATAL_ERROR "expected ${EXPECT} results at the sinks: ${out}")
endif()
message(STATUS "${out}")
