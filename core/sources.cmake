# core/ in folders by part, lowest first (each folder's README.md says what it
# owns and which parts it may include; scripts/check_layers.py enforces it).
include(core/base/sources.cmake)
include(core/codec/sources.cmake)
include(core/expr/sources.cmake)
include(core/state/sources.cmake)
include(core/lang/sources.cmake)
include(core/engine/sources.cmake)
include(core/http/sources.cmake)
include(core/gateway/sources.cmake)
include(core/cli/sources.cmake)
