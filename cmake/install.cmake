# What `cmake --install` puts in the prefix: the program, libabp (static and shared), the
# public headers, the manual pages, a CMake package (find_package(abp) -> abp::abp) and
# abp.pc for pkg-config. Included from the top-level CMakeLists.txt.
include(CMakePackageConfigHelpers)

# ---- manual pages: made at build time by the program itself (abp man --dir) from the text
# its --help prints, so a page and --help cannot disagree. Without leak detection: under
# the sanitizer build LeakSanitizer would count what OpenBLAS keeps until exit.
set(ABP_MAN_DIR ${CMAKE_CURRENT_BINARY_DIR}/man)
add_custom_command(OUTPUT ${ABP_MAN_DIR}/abp.1
  COMMAND ${CMAKE_COMMAND} -E make_directory ${ABP_MAN_DIR}
  COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0 $<TARGET_FILE:abp> man --dir ${ABP_MAN_DIR}
  DEPENDS abp
  COMMENT "Writing the manual pages abp.1 and abp-COMMAND.1")
add_custom_target(abp_man ALL DEPENDS ${ABP_MAN_DIR}/abp.1)

install(TARGETS abp RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS abp_static abp_shared EXPORT abpTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/abp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${ABP_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 FILES_MATCHING PATTERN "*.1")

# ---- the CMake package: abp::abp (shared) and abp::abp_static, with their dependencies
# found again by abpConfig.cmake (MPI by find_package, the rest by pkg-config, as here).
set(ABP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/abp)
install(EXPORT abpTargets NAMESPACE abp:: DESTINATION ${ABP_CMAKE_DIR})
configure_package_config_file(cmake/abpConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/abpConfig.cmake
  INSTALL_DESTINATION ${ABP_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/abpConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/abpConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/abpConfigVersion.cmake
  DESTINATION ${ABP_CMAKE_DIR})

# ---- pkg-config: the public headers include <mpi.h>, so ompi-c is a public requirement;
# the rest is needed only to link libabp.a (pkg-config --static).
file(RELATIVE_PATH ABP_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" ABP_PC_TO_PREFIX "${ABP_PC_TO_PREFIX}")
configure_file(cmake/abp.pc.in ${CMAKE_CURRENT_BINARY_DIR}/abp.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/abp.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
