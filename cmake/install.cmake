# Installation (`make install`, `cmake --install build [--prefix P]`, DESTDIR honoured):
#   bin/hopwire
#   lib/libhopwire.so.X.Y.Z + soname and dev symlinks, lib/libhopwire.a
#   include/hopwire/*.h (with the generated version.h)
#   lib/pkgconfig/hopwire.pc, lib/cmake/hopwire/ (hopwire::hopwire, hopwire::hopwire_static)
#   share/man/man1/hopwire.1 + hopwire-CMD.1 (generated from --help by scripts/man.sh)
#   share/doc/hopwire/ (README, docs/, examples/)
# and an `uninstall` target reading install_manifest.txt. See docs/install.md.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS hopwire RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set_target_properties(hopwire_shared PROPERTIES EXPORT_NAME hopwire)
set_target_properties(hopwire_static PROPERTIES EXPORT_NAME hopwire_static)
# What consumers of the installed package need besides the library (defined in
# hopwireConfig.cmake): libuv's headers always, the static library's link dependencies.
target_link_libraries(hopwire_shared INTERFACE $<INSTALL_INTERFACE:hopwire::uv_headers>)
target_link_libraries(hopwire_static INTERFACE $<INSTALL_INTERFACE:hopwire::uv_headers>
  $<INSTALL_INTERFACE:hopwire::static_deps>)
install(TARGETS hopwire_shared hopwire_static EXPORT hopwireTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# Every public header, including ones added later, and the generated version.h.
install(DIRECTORY include/hopwire DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_BINARY_DIR}/include/hopwire/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/hopwire)

# CMake package, relocatable.
set(HOP_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/hopwire)
install(EXPORT hopwireTargets NAMESPACE hopwire:: DESTINATION ${HOP_CMAKEDIR})
configure_package_config_file(cmake/hopwireConfig.cmake.in ${CMAKE_BINARY_DIR}/hopwireConfig.cmake
  INSTALL_DESTINATION ${HOP_CMAKEDIR})
# 0.x: a minor release may break the API (the soname has the minor too); from 1.0 the major.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(hop_compat SameMinorVersion)
else()
  set(hop_compat SameMajorVersion)
endif()
write_basic_package_version_file(${CMAKE_BINARY_DIR}/hopwireConfigVersion.cmake
  COMPATIBILITY ${hop_compat})
install(FILES ${CMAKE_BINARY_DIR}/hopwireConfig.cmake ${CMAKE_BINARY_DIR}/hopwireConfigVersion.cmake
  DESTINATION ${HOP_CMAKEDIR})

# hopwire.pc with absolute paths, as Debian's are, for the prefix given at install time
# (--prefix / make install PREFIX=); written to a file per prefix so that installs from one
# build directory into different places do not share it.
configure_file(cmake/hopwire.pc.in ${CMAKE_BINARY_DIR}/hopwire.pc.in @ONLY)
install(CODE "
  set(pc_libdir \"${CMAKE_INSTALL_LIBDIR}\")
  set(pc_incdir \"${CMAKE_INSTALL_INCLUDEDIR}\")
  foreach(v pc_libdir pc_incdir)
    if(NOT IS_ABSOLUTE \"\${\${v}}\")
      set(\${v} \"\\\${prefix}/\${\${v}}\")
    endif()
  endforeach()
  file(READ \"${CMAKE_BINARY_DIR}/hopwire.pc.in\" pc)
  string(REPLACE \"%PREFIX%\" \"\${CMAKE_INSTALL_PREFIX}\" pc \"\${pc}\")
  string(REPLACE \"%LIBDIR%\" \"\${pc_libdir}\" pc \"\${pc}\")
  string(REPLACE \"%INCLUDEDIR%\" \"\${pc_incdir}\" pc \"\${pc}\")
  string(MD5 pc_key \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}\")
  file(WRITE \"${CMAKE_BINARY_DIR}/pc/\${pc_key}/hopwire.pc\" \"\${pc}\")
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\"
    TYPE FILE FILES \"${CMAKE_BINARY_DIR}/pc/\${pc_key}/hopwire.pc\")
")

# Man pages: run the CLI at build time (the list of commands comes from the CLI itself).
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/.stamp
  COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/man.sh $<TARGET_FILE:hopwire> ${CMAKE_BINARY_DIR}/man
  DEPENDS hopwire ${CMAKE_SOURCE_DIR}/scripts/man.sh
  COMMENT "Generating man pages from hopwire --help")
add_custom_target(hopwire_man ALL DEPENDS ${CMAKE_BINARY_DIR}/man/.stamp)
install(DIRECTORY ${CMAKE_BINARY_DIR}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
  FILES_MATCHING PATTERN "*.1")

install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
  FILES_MATCHING PATTERN "*.md" PATTERN "*.svg")
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

add_custom_target(uninstall
  COMMAND ${CMAKE_COMMAND} -DMANIFEST=${CMAKE_BINARY_DIR}/install_manifest.txt
          -P ${CMAKE_SOURCE_DIR}/cmake/uninstall.cmake
  COMMENT "Removing the files listed in install_manifest.txt")
