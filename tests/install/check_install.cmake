# Run by CTest with -P; see CMakeLists.txt beside this file.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(required lib/cmake/orch/orchConfig.cmake lib/cmake/orch/orchConfigVersion.cmake
                 include/orch/store/store.h include/orch/api/v1/meta.pb.h)
  if(NOT EXISTS ${prefix}/${required})
    message(FATAL_ERROR "install is missing ${required}")
  endif()
endforeach()

string(REPLACE "," ";" examples "${EXAMPLES}")
foreach(example IN LISTS examples)
  set(build ${WORK_DIR}/${example})
  run(${CMAKE_COMMAND} -S ${EXAMPLES_DIR}/${example} -B ${build} -G Ninja
      -DCMAKE_PREFIX_PATH=${prefix}
      -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
      "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
      "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}"
      -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
  run(${CMAKE_COMMAND} --build ${build})
  file(GLOB programs ${build}/orch-*-example)
  if(NOT programs)
    message(FATAL_ERROR "example ${example}: no program was built")
  endif()
  foreach(program IN LISTS programs)
    run(${program})
  endforeach()
endforeach()
