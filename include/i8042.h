/*
 * The part of an i8042 keyboard controller a Linux guest needs: the status
 * and command ports, so that a CPU reset (command 0xfe on port 0x64) reaches
 * the VMM as a reboot request.  No keyboard or mouse.
 */
#ifndef VMM_I8042_H
#define VMM_I8042_H

struct bus;
struct vm_events;

#define I8042_DATA_PORT	0x60
#define I8042_CMD_PORT	0x64

struct i8042;

/* Reset command calls ev->ve_stop(VM_STOP_REBOOT).  NULL on ENOMEM. */
struct i8042	*i8042_create(const struct vm_events *ev);
void		 i8042_destroy(struct i8042 *);
/* Registers ports 0x60 and 0x64 (two one-port ranges); 0 or -errno. */
int		 i8042_attach(struct i8042 *, struct bus *);

#endif /* VMM_I8042_H */
