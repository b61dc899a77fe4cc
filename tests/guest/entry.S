/*
 * entry.S — boot entry, GDT, page tables, interrupt stubs, the AP trampoline.
 *
 * The VMM enters _start in 64-bit mode at CPL0 with interrupts off and
 * RSI = boot_params (DESIGN §9). Everything here runs emulated on nested
 * kvm_pvm hosts (~1 µs per instruction), so it is kept short: tables that can
 * be built at link time are (page tables, GDT), the timer handler is two
 * instructions, and the rest of the work happens in ring 3.
 */
#include "guest.h"

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	mov	%rsi, boot_params(%rip)
	lea	bsp_kstack + KSTACK_SIZE(%rip), %rsp
	call	load_gdt
	lea	pml4(%rip), %rax
	mov	%rax, %cr3
	xor	%edi, %edi
	call	kinit			/* IDT, TSS, PIC (kernel.c) */
	lea	user_main(%rip), %rdi
	mov	boot_params(%rip), %rsi
	lea	bsp_ustack + USTACK_SIZE(%rip), %rdx
	jmp	enter_user

/* load our GDT and reload every segment register */
load_gdt:
	lgdt	gdt_ptr(%rip)
	pop	%rcx			/* return address */
	push	$KCODE
	lea	1f(%rip), %rax
	push	%rax
	lretq
1:	mov	$KDATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	xor	%eax, %eax
	mov	%eax, %fs
	mov	%eax, %gs
	jmp	*%rcx

/* enter_user(fn, arg, stack_top): iretq into ring 3, IOPL=3, IF=1 */
	.globl enter_user
enter_user:
	sub	$8, %rdx		/* as if fn had been called */
	push	$UDATA
	push	%rdx
	push	$USER_RFLAGS
	push	$UCODE
	push	%rdi
	mov	%rsi, %rdi
	xor	%eax, %eax
	mov	%eax, %ds		/* null data selectors are fine in 64-bit mode */
	mov	%eax, %es
	iretq

/* application processors arrive here from the trampoline, stack set */
	.globl ap_entry64
ap_entry64:
	call	load_gdt
	lea	pml4(%rip), %rax
	mov	%rax, %cr3
	mov	ap_boot_cpu(%rip), %rdi
	push	%rdi
	call	ap_kinit		/* ltr, lidt; returns its user stack top */
	pop	%rsi
	mov	%rax, %rdx
	lea	ap_user_main(%rip), %rdi
	jmp	enter_user

/* ---- interrupt and exception stubs ---- */

/* timer: the only frequent interrupt. The PIC is in auto-EOI mode, so
 * there is nothing to acknowledge: count and return. */
	.globl isr_timer
isr_timer:
	incq	ticks(%rip)
	iretq

	.globl isr_spurious
isr_spurious:
	iretq

	.macro	STUB n, has_err
	.balign	16
isr\n:
	.if	\has_err == 0
	push	$0
	.endif
	push	$\n
	jmp	trap_common
	.endm

	.irp	n, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
	STUB	\n, 0
	.endr
	.irp	n, 8,10,11,12,13,14,17,21,29,30
	STUB	\n, 1
	.endr
	STUB	33, 0			/* IRQ 1: keyboard */

	.section .rodata
	.balign	8
	.globl	isr_table
isr_table:				/* vectors 0..31 */
	.irp	n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad	isr\n
	.endr
	.globl	isr_kbd
isr_kbd:
	.quad	isr33
	.text

trap_common:
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%r11
	push	%r10
	push	%r9
	push	%r8
	push	%rbp
	push	%rdi
	push	%rsi
	push	%rdx
	push	%rcx
	push	%rbx
	push	%rax
	mov	%rsp, %rdi
	call	trap
	pop	%rax
	pop	%rbx
	pop	%rcx
	pop	%rdx
	pop	%rsi
	pop	%rdi
	pop	%rbp
	pop	%r8
	pop	%r9
	pop	%r10
	pop	%r11
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	add	$16, %rsp		/* vector, error code */
	iretq

/* ---- AP trampoline: copied to TRAMP_BASE by ring 3, entered by SIPI in
 * real mode at TRAMP_BASE:0 (CS = TRAMP_BASE >> 4) ---- */
	.section .rodata
	.balign	16
	.globl	ap_tramp_start, ap_tramp_end
#define T(x) (TRAMP_BASE + (x) - ap_tramp_start)
	.code16
ap_tramp_start:
	cli
	mov	%cs, %ax
	mov	%ax, %ds
	lgdtl	tr_gdtr - ap_tramp_start
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$0x08, $T(tr_pm32)
	.code32
tr_pm32:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%cr4, %eax
	or	$0x20, %eax		/* PAE */
	mov	%eax, %cr4
	mov	$pml4, %eax
	mov	%eax, %cr3
	mov	$0xc0000080, %ecx	/* EFER.LME */
	rdmsr
	or	$0x100, %eax
	wrmsr
	mov	%cr0, %eax
	or	$0x80000000, %eax	/* PG: long mode */
	mov	%eax, %cr0
	ljmp	$0x18, $T(tr_lm64)
	.code64
tr_lm64:
	mov	$ap_boot_stack, %eax
	mov	(%rax), %rsp
	mov	$ap_entry64, %eax
	jmp	*%rax
	.balign	8
tr_gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08 code32 */
	.quad	0x00cf92000000ffff	/* 0x10 data */
	.quad	0x00af9a000000ffff	/* 0x18 code64 */
tr_gdtr:
	.word	31
	.long	T(tr_gdt)
ap_tramp_end:
	.code64

/* ---- GDT: TSS descriptors are filled in by kernel.c ---- */
	.data
	.balign	16
	.globl	gdt
gdt:
	.quad	0
	.quad	0x00af9a000000ffff	/* 0x08 kernel code64 */
	.quad	0x00cf92000000ffff	/* 0x10 kernel data */
	.quad	0x00cff2000000ffff	/* 0x18 user data, DPL3 */
	.quad	0x00affa000000ffff	/* 0x20 user code64, DPL3 */
	.fill	2 * MAXCPU, 8, 0	/* 0x28.. TSS per CPU */
gdt_end:
	.balign	8
	.word	0, 0, 0
gdt_ptr:
	.word	gdt_end - gdt - 1
	.quad	gdt

/* ---- page tables: identity map of 0..8 GiB with 2 MiB pages, user bit at
 * every level (ring 3 touches RAM, the PCI BARs and our own tables) ---- */
	.section .data.pagetables, "aw"
	.balign	4096
	.globl	pml4
pml4:
	.quad	pdpt + 7
	.fill	511, 8, 0
pdpt:
	.set	i, 0
	.rept	8
	.quad	pd + i * 4096 + 7
	.set	i, i + 1
	.endr
	.fill	504, 8, 0
pd:
	.set	i, 0
	.rept	8 * 512
	.quad	(i << 21) + 0x87	/* P | RW | U | PS */
	.set	i, i + 1
	.endr
