# cmake -DROOT=<source dir> -DDIRS="a;b" -P includes_by_name.cmake
# Fails when a source under DIRS includes a project header by a path
# ("private/x.h", "../x.h", "worker/x.h"): headers are named by their file
# name only, and the include directories decide what a module may see.
set(bad "")
foreach(d ${DIRS})
  file(GLOB_RECURSE srcs ${ROOT}/${d}/*.c ${ROOT}/${d}/*.h)
  foreach(f ${srcs})
    file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"[^\"]*/")
    foreach(l ${lines})
      string(APPEND bad "${f}: ${l}\n")
    endforeach()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "headers included by path:\n${bad}")
endif()
message(STATUS "every project header is included by its name")
