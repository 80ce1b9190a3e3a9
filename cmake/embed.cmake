# Turns files into a C array at build time:
#   cmake -DIN=<file>[|<file>...] -DOUT=<file.c> -DNAME=<symbol> -P embed.cmake
# gives `const char NAME[]` (the files concatenated in order, NUL-terminated)
# and `const size_t NAME_len`.  Used for ingress/openapi.json and the Lua
# scripts (ci_embed() in the top CMakeLists.txt).
string(REPLACE "|" ";" files "${IN}")
set(hex "")
foreach(f IN LISTS files)
  file(READ "${f}" h HEX)
  string(APPEND hex "${h}")
endforeach()
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}" "/* generated from ${IN} by embed.cmake; do not edit */\n#include <stddef.h>\n"
     "const char ${NAME}[] = {${bytes}0};\nconst size_t ${NAME}_len = ${len};\n")
