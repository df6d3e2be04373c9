# `make uninstall` / `cmake --build build --target uninstall`: removes every file the last
# install from this build directory recorded in install_manifest.txt, under $DESTDIR when set
# (the manifest holds the paths without it), then the directories of hopwire's own that are
# left empty.
#   [DESTDIR=/tmp/stage] cmake -DMANIFEST=build/install_manifest.txt -P cmake/uninstall.cmake
if(NOT MANIFEST OR NOT EXISTS "${MANIFEST}")
  message(FATAL_ERROR "uninstall: no install manifest '${MANIFEST}' (nothing installed from here?)")
endif()
file(STRINGS "${MANIFEST}" files)
set(dirs "")
foreach(f IN LISTS files)
  set(f "$ENV{DESTDIR}${f}")
  if(EXISTS "${f}" OR IS_SYMLINK "${f}")
    message(STATUS "Removing: ${f}")
    file(REMOVE "${f}")
  endif()
  get_filename_component(d "${f}" DIRECTORY)
  list(APPEND dirs "${d}")
endforeach()
# include/hopwire, lib/cmake/hopwire, share/doc/hopwire/examples, share/doc/hopwire (deepest
# first); shared directories such as bin or share/man/man1 stay.
list(REMOVE_DUPLICATES dirs)
list(SORT dirs ORDER DESCENDING)
foreach(d IN LISTS dirs)
  while(d MATCHES "/hopwire(/examples)?$" AND IS_DIRECTORY "${d}")
    file(GLOB left "${d}/*")
    if(left)
      break()
    endif()
    message(STATUS "Removing: ${d}/")
    file(REMOVE_RECURSE "${d}")
    get_filename_component(d "${d}" DIRECTORY)
  endwhile()
endforeach()
