# cmake -DROOT=<source dir> -DDIRS="worker;ingress" -P one_header.cmake
# Fails when a module folder (one with a CMakeLists.txt) under DIRS offers
# more than one public header (*.h beside its sources; private/ excluded).
set(bad "")
foreach(d ${DIRS})
  file(GLOB_RECURSE lists ${ROOT}/${d}/*/CMakeLists.txt)
  foreach(l ${lists})
    get_filename_component(dir ${l} DIRECTORY)
    file(GLOB hs RELATIVE ${ROOT} ${dir}/*.h)
    list(LENGTH hs n)
    if(n GREATER 1)
      string(APPEND bad "${dir}: ${hs}\n")
    endif()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "modules with more than one public header:\n${bad}")
endif()
message(STATUS "every module under ${DIRS} offers one public header at most")
