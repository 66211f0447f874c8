# Installs the headers, libmeridian.so, an exported CMake package
# (find_package(meridian) -> meridian::meridian) and a pkg-config file.
include(CMakePackageConfigHelpers)

install(TARGETS meridian EXPORT meridianTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/meridian DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT meridianTargets NAMESPACE meridian::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/meridian)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/meridianConfig.cmake.in
  ${PROJECT_BINARY_DIR}/meridianConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/meridian)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/meridianConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/meridianConfig.cmake
  ${PROJECT_BINARY_DIR}/meridianConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/meridian)

configure_file(${PROJECT_SOURCE_DIR}/cmake/meridian.pc.in ${PROJECT_BINARY_DIR}/meridian.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/meridian.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
