include(CMakePackageConfigHelpers)

install(TARGETS orch EXPORT orchTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/orch DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h" PATTERN "*.proto")
install(DIRECTORY ${ORCH_GEN_DIR}/orch DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.pb.h")

set(ORCH_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/orch)
install(EXPORT orchTargets NAMESPACE orch:: DESTINATION ${ORCH_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/orchConfig.cmake.in
  ${PROJECT_BINARY_DIR}/orchConfig.cmake INSTALL_DESTINATION ${ORCH_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/orchConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/orchConfig.cmake ${PROJECT_BINARY_DIR}/orchConfigVersion.cmake
        DESTINATION ${ORCH_CMAKE_DIR})
if(TARGET orchctl)
  install(TARGETS orchctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
