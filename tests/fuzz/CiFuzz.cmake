# ci_add_fuzz_target(<name> <source> [LIBS lib...] [CORPUS dir] [TIMEOUT s])
#
# Builds <name> = <source> + fuzz_driver.c with the project's compiler (gcc
# is fine) and registers ctest test "<name>" (LABEL fuzz) that runs the seed
# corpus (default tests/fuzz/corpus/<name>/) and then mutations for
# FUZZ_SECONDS (env, default 10).  With -DCI_FUZZ=ON and a clang compiler it
# also builds <name>-libfuzzer, a real libFuzzer binary
# (-fsanitize=fuzzer,address,undefined), not run by ctest.
#
# Usable from any CMakeLists.txt:
#   include(${CMAKE_SOURCE_DIR}/tests/fuzz/CiFuzz.cmake)
#   ci_add_fuzz_target(fuzz_my_parser fuzz_my_parser.c LIBS ci_mylib)
# INSIDES <module target...>: modules whose private/ headers the target includes.
include_guard(GLOBAL)

set(CI_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})

function(ci_add_fuzz_target name source)
  cmake_parse_arguments(A "" "CORPUS;TIMEOUT" "LIBS;INSIDES" ${ARGN})
  if(NOT A_CORPUS)
    set(A_CORPUS ${CI_FUZZ_DIR}/corpus/${name})
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 1500)
  endif()
  get_filename_component(src ${source} ABSOLUTE)

  add_executable(${name} ${src} ${CI_FUZZ_DIR}/fuzz_driver.c)
  target_link_libraries(${name} PRIVATE ${A_LIBS})
  foreach(m ${A_INSIDES})
    ci_module_insides(${name} ${m})
  endforeach()
  add_test(NAME ${name} COMMAND ${name} ${A_CORPUS})
  # exit status decides: sanitizer reports, LeakSanitizer and abort() fail it
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT ${A_TIMEOUT})

  if(CI_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_executable(${name}-libfuzzer ${src})
    target_compile_options(${name}-libfuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name}-libfuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name}-libfuzzer PRIVATE ${A_LIBS})
    foreach(m ${A_INSIDES})
      ci_module_insides(${name}-libfuzzer ${m})
    endforeach()
  endif()
endfunction()
