# ci_module(<target> SOURCES ... [PUBLIC ...] [PRIVATE ...])
#
# One module = one folder = one STATIC library.  The folder itself is the
# module's PUBLIC include directory: the header(s) next to its .c files are
# what other modules may include.  <folder>/private/ holds the headers only
# the module's own sources include (the `_int.h` and helper headers): it is
# a PRIVATE include directory, so another module that includes one of them
# does not compile.  PUBLIC lists the modules whose headers the public
# header includes; PRIVATE the ones only the .c files use.
#
# A white-box unit test that needs a module's insides says so in its own
# CMakeLists.txt with ci_module_insides(<test> <module target>).
function(ci_module name)
  cmake_parse_arguments(A "" "" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/private)
    target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/private)
  endif()
  set_target_properties(${name} PROPERTIES CI_MODULE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${A_PUBLIC} PRIVATE ${A_PRIVATE})
  set_property(GLOBAL APPEND PROPERTY CI_MODULES ${name})
endfunction()

# Lets a test target include the private headers of `module` (tests only).
function(ci_module_insides target module)
  get_target_property(dir ${module} CI_MODULE_DIR)
  if(NOT dir)
    message(FATAL_ERROR "ci_module_insides: ${module} is not a ci_module() library")
  endif()
  target_include_directories(${target} PRIVATE ${dir}/private)
endfunction()
